"""Mirror models for refunds; see ../shared/DESIGN.md section 4."""
