"""gunicorn settings, read from the working directory by `gunicorn nexus.wsgi`.

Whenever the access log is on (`--access-logfile -`), it names the path without its query
string: search terms are patient names, mobiles and Medicare numbers (issue 12 item 7,
security.md R14). No referrer either: it carries the previous page's query. The request id
ties a line to the app's own logs.
"""

access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'
)
