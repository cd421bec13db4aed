"""WSGI entry point for OrderSync."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")

application = get_wsgi_application()
