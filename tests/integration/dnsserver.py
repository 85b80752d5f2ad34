"""A tiny authoritative DNS server for delivery tests (dnslib, Debian's
python3-dnslib), on a loopback UDP port in a thread.

    with DNSServer() as dns:
        dns.mx("example.net", [(10, "mx1.example.net"), (20, "mx2.example.net")])
        dns.a("mx1.example.net", "127.0.0.1")
        dns.null_mx("nomail.example")            # RFC 7505 "0 ."
        dns.servfail("broken.example")           # SERVFAIL for any type
        resolver = f"127.0.0.1:{dns.port}"

Names it knows answer with their records (NOERROR and no answer for a type
it has none of: NODATA); unknown names answer NXDOMAIN. Records can be
changed while it runs. Independent of conftest.py.
"""

import threading

from dnslib import AAAA, MX, QTYPE, RCODE, RR, A, DNSLabel
from dnslib.server import BaseResolver, DNSLogger
from dnslib.server import DNSServer as _DNSServer

__all__ = ["DNSServer"]


def _key(name):
    return str(DNSLabel(name)).lower().rstrip(".") + "."


class _Resolver(BaseResolver):
    def __init__(self, owner):
        self.owner = owner

    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.aa = 1
        qname = request.q.qname
        qtype = QTYPE[request.q.qtype]
        key = _key(str(qname))
        with self.owner._lock:
            self.owner.queries.append((key, qtype))
            if key in self.owner._servfail:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            records = self.owner._zone.get(key)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            for rtype, rdata in records:
                if rtype == qtype or qtype == "ANY":
                    reply.add_answer(RR(qname, getattr(QTYPE, rtype), rdata=rdata,
                                        ttl=60))
        return reply


class DNSServer:
    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.port = None
        self.queries = []               # (name., type) in arrival order
        self._zone = {}                 # "name." -> [(type, rdata)]
        self._servfail = set()
        self._lock = threading.Lock()
        self._server = None

    # -- records

    def _add(self, name, rtype, rdata):
        with self._lock:
            self._zone.setdefault(_key(name), []).append((rtype, rdata))

    def mx(self, domain, hosts):
        """hosts: [(preference, "mx.host.name"), ...]"""
        for pref, host in hosts:
            self._add(domain, "MX", MX(host, pref))

    def null_mx(self, domain):
        self._add(domain, "MX", MX(".", 0))

    def a(self, name, *addrs):
        for addr in addrs:
            self._add(name, "A", A(addr))

    def aaaa(self, name, *addrs):
        for addr in addrs:
            self._add(name, "AAAA", AAAA(addr))

    def exists(self, name):
        """The name exists (NODATA for every type) but has no records."""
        with self._lock:
            self._zone.setdefault(_key(name), [])

    def servfail(self, name):
        with self._lock:
            self._servfail.add(_key(name))

    def clear(self):
        with self._lock:
            self._zone.clear()
            self._servfail.clear()
            self.queries.clear()

    # -- life cycle

    def start(self):
        logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,"
                               "-data", prefix=False, logf=lambda s: None)
        self._server = _DNSServer(_Resolver(self), address=self.host, port=0,
                                  logger=logger)
        self.port = self._server.server.server_address[1]
        self._server.start_thread()
        return self

    def stop(self):
        if self._server is not None:
            self._server.stop()
            self._server.server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def resolver(self):
        """The "host:port" form of [delivery] resolver."""
        return f"{self.host}:{self.port}"


if __name__ == "__main__":      # manual use: python3 dnsserver.py
    import time
    with DNSServer() as d:
        d.mx("example.net", [(10, "mx.example.net")])
        d.a("mx.example.net", "127.0.0.1")
        print(f"dns on {d.resolver}", flush=True)
        while True:
            time.sleep(3600)
