"""Runs moto's server (`moto_server`, same options) with one request at a time.

moto's DynamoDB backend is not safe under its threaded server: TransactWriteItems copies
the whole table first and, when a condition fails, puts that copy back, which erases what
other requests wrote in the meantime. DynamoDB itself serializes conflicting writes, so
this wrapper takes one lock around each request to give moto the same behaviour.
"""

import sys
import threading

from moto import server
from moto.moto_server import werkzeug_app

_LOCK = threading.Lock()
_DISPATCH = werkzeug_app.DomainDispatcherApplication.__call__


def _serialized_call(self, environ, start_response):
    with _LOCK:
        result = _DISPATCH(self, environ, start_response)
        try:
            return list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


werkzeug_app.DomainDispatcherApplication.__call__ = _serialized_call

if __name__ == "__main__":
    server.main(sys.argv[1:])
