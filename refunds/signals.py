"""What refunds tells the apps above it, without naming them: `return_approved` (sender RefundRequest,
refund=...) once Reverb has the approval of a refund whose item came back and the person asked to put it
back in stock. A receiver returns a sentence saying what it did (shown on the refund page); inventory's
puts the order's quantity back (inventory/returns.py, connected in its AppConfig.ready())."""

from django.dispatch import Signal

return_approved = Signal()
