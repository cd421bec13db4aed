# The Celery app is loaded by ordersync.core's AppConfig.ready(), so the Django-free
# packages (ordersync.orderfile, ordersync.metrika) import without Celery.
