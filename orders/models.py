"""Mirror models for orders; see ../shared/DESIGN.md section 4."""
