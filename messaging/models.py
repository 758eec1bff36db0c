"""Mirror models for messaging; see ../shared/DESIGN.md section 4."""
