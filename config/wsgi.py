import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Everything loaded by now (Django, the apps, the ZIP table warmed by routing's ready()) lives
# as long as the process. Freezing it keeps the cyclic collector from scanning it again: without
# this, a full collection landing in a request scanned the whole heap — ~95 ms pauses in one
# manager-dashboard request in four (docs/benchmarks.md, "Load").
gc.freeze()
