"""Mirror models for payouts; see ../shared/DESIGN.md section 4."""
