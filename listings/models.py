"""Mirror models for listings; see ../shared/DESIGN.md section 4."""
