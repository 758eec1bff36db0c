"""Our own admin pages beyond the changelists: the dashboard, the sync log, and what they are drawn with
(render.py: the admin shell around a page; tables.py: django-tables2 tables; charts.py: SVG bar charts)."""
