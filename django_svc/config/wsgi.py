import os
import warnings

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config import telemetry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Before the handler below loads the middleware it adds.
telemetry.instrument_django()
application = get_wsgi_application()

if settings.JWT_SECRET_KEY_IS_DEFAULT:
    warnings.warn("JWT_SECRET_KEY is not set: using an insecure development key.", stacklevel=1)
if settings.APP_ENV == "test":
    warnings.warn("APP_ENV=test: passwords are hashed with cheap parameters.", stacklevel=1)
