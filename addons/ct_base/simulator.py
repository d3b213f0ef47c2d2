"""A local HTTP simulator of an external system (docs/integrations/outbox.md)

It accepts ``POST /<operation>`` with a JSON body and an ``Idempotency-Key``
header, records each message once per key and answers a repeated key with
the first response (``Idempotent-Replayed: true``). It can be told to fail
or to stall the next N calls, to exercise retries::

    python -m trytond.modules.ct_base.simulator --port 8765

    sim = Simulator().start()          # in tests: a free port, a thread
    sim.fail_next(2, status=503)
    sim.url, sim.messages, sim.stop()
"""
import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Simulator:
    def __init__(self, host='127.0.0.1', port=0):
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = []      # accepted messages, one per key
            self.responses = {}     # key -> (status, body)
            self.calls = []         # every request: (key, operation, status)
            self.in_flight = set()  # keys being processed
            self._fail = []         # statuses for the next calls
            self._stall = []        # seconds for the next calls

    def fail_next(self, count=1, status=503):
        with self.lock:
            self._fail.extend([status] * count)

    def timeout_next(self, count=1, seconds=5):
        with self.lock:
            self._stall.extend([seconds] * count)

    @property
    def url(self):
        return f'http://{self.host}:{self.port}'

    def start(self):
        simulator = self

        class Handler(_Handler):
            sim = simulator
        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def handle(self, operation, key, body):
        "Return (status, response body dict, extra headers)"
        with self.lock:
            if not key:
                self.calls.append((key, operation, 400))
                return 400, {'error': 'Idempotency-Key header required'}, {}
            if key in self.responses:
                status, response = self.responses[key]
                self.calls.append((key, operation, status))
                return status, response, {'Idempotent-Replayed': 'true'}
            if key in self.in_flight:
                self.calls.append((key, operation, 409))
                return 409, {'error': 'a request with this key is running'}, {}
            self.in_flight.add(key)
            stall = self._stall.pop(0) if self._stall else 0
            fail = self._fail.pop(0) if self._fail else None
        try:
            if stall:
                # A slow receiver: the client times out but the message is
                # still processed; the client's retry gets the replay.
                time.sleep(stall)
            with self.lock:
                if fail:
                    self.calls.append((key, operation, fail))
                    return fail, {'error': 'simulated failure'}, {}
                try:
                    payload = json.loads(body or b'{}')
                except ValueError:
                    self.calls.append((key, operation, 400))
                    return 400, {'error': 'invalid JSON'}, {}
                response = {'id': str(uuid.uuid4()), 'status': 'accepted'}
                self.messages.append({
                        'key': key, 'operation': operation,
                        'payload': payload, 'received': time.time()})
                self.responses[key] = (200, response)
                self.calls.append((key, operation, 200))
                return 200, response, {}
        finally:
            with self.lock:
                self.in_flight.discard(key)


class _Handler(BaseHTTPRequestHandler):
    sim = None

    def log_message(self, format, *args):
        pass

    def _send(self, status, data, headers=None):
        body = json.dumps(data, ensure_ascii=False).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def do_GET(self):
        if self.path == '/_messages':
            with self.sim.lock:
                data = {'messages': list(self.sim.messages),
                    'calls': len(self.sim.calls)}
            self._send(200, data)
        else:
            self._send(404, {'error': 'not found'})

    def do_POST(self):
        body = self._body()
        path = self.path.strip('/')
        if path.startswith('_control/'):
            try:
                data = json.loads(body or b'{}')
            except ValueError:
                data = {}
            command = path.split('/', 1)[1]
            if command == 'fail':
                self.sim.fail_next(
                    int(data.get('count', 1)), int(data.get('status', 503)))
            elif command == 'timeout':
                self.sim.timeout_next(
                    int(data.get('count', 1)), float(data.get('seconds', 5)))
            elif command == 'reset':
                self.sim.reset()
            else:
                self._send(404, {'error': 'unknown command'})
                return
            self._send(200, {'ok': True})
            return
        status, data, headers = self.sim.handle(
            path, self.headers.get('Idempotency-Key'), body)
        self._send(status, data, headers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8765)
    args = parser.parse_args()
    simulator = Simulator(args.host, args.port).start()
    print(f"simulator listening on {simulator.url}", flush=True)
    try:
        simulator.thread.join()
    except KeyboardInterrupt:
        simulator.stop()


if __name__ == '__main__':
    main()
