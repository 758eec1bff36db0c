"""The bench: `manage.py bench` measures the product against the emulator, one scenario per goal.

A development tool, not the product: the product imports nothing from here. kit.py is the shared set-up
(the emulator process, ports, worker processes, shop sizes, scratch databases, the goal line); goals/ has
one module per thing measured, each importing the kit and never another goal; locustfiles/ the team
scenario's Locust users.
"""
