"""Background work: the worker queue (queue.py), bulk jobs (jobs.py) and the mass sync built on them,
django-q2 task entry points (tasks.py) and their schedules (schedules.py), the shared rate budget
(ratebudget.py) and the webhook receiver and processor (webhooks.py)."""
