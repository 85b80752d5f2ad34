/*
 * mx.c - the MX agent (RFC 5321 §5.1): look up the recipients' domain's MX
 * records with c-ares, used synchronously on the work-pool thread; order
 * by preference with equal preferences shuffled; implicit MX (the
 * domain's own A/AAAA) when there is none; null MX (RFC 7505) bounces
 * with 556 5.1.10; NXDOMAIN bounces with 5.1.2; SERVFAIL and timeouts
 * defer. Opportunistic STARTTLS (unverified accepted, recorded as such).
 * The next address is tried on connection failure or any refusal before
 * MAIL (greeting, EHLO, TLS handshake).
 * The §5.1 loop rule: an MX host that is this server (an address and port
 * one of our listeners has, or any local address for a wildcard listener)
 * and every host not preferred to it are dropped; none left is a loop
 * (554 5.4.6).
 * Not done: DANE, MTA-STS, retrying plaintext after a failed TLS handshake.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ares.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "deliver/agent_int.h"

#define MX_HOSTS_MAX      16 /* MX records used */
#define MX_ADDRS_PER_HOST 4
#define MX_ADDRS_MAX      32   /* connection attempts in all */
#define MX_DNS_TIMEOUT_MS 5000 /* per try */
#define MX_DNS_TRIES      2
#define MX_DNS_LIMIT_MS   30000 /* all lookups of one delivery */

struct mx_host {
	char name[256];
	unsigned short pref;
	int status; /* ARES_* of its address lookup */
	struct sockaddr_storage addrs[MX_ADDRS_PER_HOST];
	socklen_t addrlens[MX_ADDRS_PER_HOST];
	size_t naddrs;
};

struct mx_query {
	int done;
	int status;
	struct mx_host *hosts; /* MX_HOSTS_MAX */
	size_t nhosts;
	int null_mx;
};

static char lookups_dns_only[] = "b";
static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_rc = ARES_SUCCESS;

static void
ares_lib_init(void)
{
	ares_init_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ares_wait - run the channel until its queries are done or deadline. */
static void
ares_wait(ares_channel ch, long long deadline)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	struct timeval tv, *tvp;
	long long left;
	unsigned int ubits;
	int bits, i, n, ms, rc;

	for (;;) {
		bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		ubits = (unsigned int)bits;
		n = 0;
		for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;

			/* c-ares' macros shift a signed 1 into bit 31 */
			if ((ubits & (1u << i)) != 0)
				ev |= POLLIN;
			if ((ubits & (1u << (i + ARES_GETSOCK_MAXNUM))) != 0)
				ev |= POLLOUT;
			if (ev == 0)
				continue;
			pfd[n].fd = socks[i];
			pfd[n].events = ev;
			pfd[n].revents = 0;
			n++;
		}
		if (n == 0)
			return; /* nothing pending */
		left = deadline - mono_ms();
		if (left <= 0) {
			ares_cancel(ch); /* callbacks get ARES_ECANCELLED */
			return;
		}
		tvp = ares_timeout(ch, NULL, &tv);
		ms = left > 60000 ? 60000 : (int)left;
		if (tvp != NULL) {
			long long t = (long long)tvp->tv_sec * 1000 +
			    tvp->tv_usec / 1000 + 1;

			if (t < ms)
				ms = (int)t;
		}
		rc = poll(pfd, (nfds_t)n, ms);
		if (rc <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (i = 0; i < n; i++) {
			ares_process_fd(ch,
			    (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			        ? pfd[i].fd
			        : ARES_SOCKET_BAD,
			    (pfd[i].revents & POLLOUT) ? pfd[i].fd
			                               : ARES_SOCKET_BAD);
		}
	}
}

/* mx_cb - the MX answer: hosts (bounded), null MX noted. */
static void
mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct mx_query *q = arg;
	struct ares_mx_reply *mx = NULL, *m;
	size_t nrec = 0, nnull = 0;

	(void)timeouts;
	q->done = 1;
	q->status = status;
	if (status != ARES_SUCCESS)
		return;
	q->status = ares_parse_mx_reply(abuf, alen, &mx);
	if (q->status != ARES_SUCCESS)
		return;
	for (m = mx; m != NULL; m = m->next) {
		nrec++;
		/* RFC 7505 §3: "0 ." */
		if (m->host == NULL || m->host[0] == '\0' ||
		    strcmp(m->host, ".") == 0) {
			nnull++;
			continue;
		}
		if (q->nhosts >= MX_HOSTS_MAX ||
		    strlen(m->host) >= sizeof(q->hosts[0].name))
			continue;
		str_copy(q->hosts[q->nhosts].name, m->host,
		    sizeof(q->hosts[0].name));
		q->hosts[q->nhosts].pref = m->priority;
		q->nhosts++;
	}
	ares_free_data(mx);
	/* a null MX among real ones is a misconfiguration: use the real */
	if (nnull > 0 && q->nhosts == 0)
		q->null_mx = 1;
	if (nrec == 0)
		q->status = ARES_ENODATA;
}

/* addr_cb - addresses of one MX host (bounded). */
static void
addr_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct mx_host *h = arg;
	struct ares_addrinfo_node *n;

	(void)timeouts;
	h->status = status;
	if (res == NULL)
		return;
	for (n = res->nodes; n != NULL && h->naddrs < MX_ADDRS_PER_HOST;
	     n = n->ai_next) {
		if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
		    n->ai_addrlen > sizeof(h->addrs[0]))
			continue;
		memcpy(&h->addrs[h->naddrs], n->ai_addr, n->ai_addrlen);
		h->addrlens[h->naddrs] = (socklen_t)n->ai_addrlen;
		h->naddrs++;
	}
	ares_freeaddrinfo(res);
}

static int
pref_cmp(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

/* order_hosts - by preference, equal preferences in random order. */
static void
order_hosts(struct mx_host *h, size_t n)
{
	struct mx_host tmp;
	size_t i, j, k, start;

	qsort(h, n, sizeof(*h), pref_cmp);
	for (start = 0; start < n; start = i) {
		for (i = start; i < n && h[i].pref == h[start].pref; i++)
			;
		for (j = i - 1; j > start; j--) { /* Fisher-Yates */
			k = start + (size_t)(rand_u64() % (j - start + 1));
			if (k != j) {
				tmp = h[j];
				h[j] = h[k];
				h[k] = tmp;
			}
		}
	}
}

static int
is_temp(int status)
{
	return status != ARES_SUCCESS && status != ARES_ENOTFOUND &&
	    status != ARES_ENODATA && status != ARES_ENONAME;
}

/* set_port - port into an AF_INET/AF_INET6 address. */
static void
set_port(struct sockaddr_storage *ss, unsigned short port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]"
 * IPv6-address-literal = "IPv6:" IPv6-addr          (RFC 5321 §4.1.3)
 * literal_host - 1 and h filled if domain is one; 0 if not; -1 if bad.
 */
static int
literal_host(const char *domain, struct mx_host *h)
{
	size_t n = strlen(domain);
	char ip[64];

	if (n < 2 || domain[0] != '[')
		return 0;
	if (domain[n - 1] != ']' || n - 2 >= sizeof(ip))
		return -1;
	memcpy(ip, domain + 1, n - 2);
	ip[n - 2] = '\0';
	memset(h, 0, sizeof(*h));
	str_copy(h->name, ip, sizeof(h->name));
	if (strncasecmp(ip, "IPv6:", 5) == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addrs[0];

		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip + 5, &s6->sin6_addr) != 1)
			return -1;
		h->addrlens[0] = sizeof(*s6);
		str_copy(h->name, ip + 5, sizeof(h->name));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addrs[0];

		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			return -1;
		h->addrlens[0] = sizeof(*s4);
	}
	h->naddrs = 1;
	return 1;
}

/* all_fail - every recipient gets the same made-up result; -1. */
static int all_fail(struct dlv_job *job, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
all_fail(struct dlv_job *job, int code, const char *enh, const char *fmt, ...)
{
	struct smtp_reply r;
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	reply_set_local(&r, code, enh, "%s", text);
	dlv_all_reply(job, &r);
	return -1;
}

/*
 * resolve - the hosts to try, in order, with their addresses. Returns
 * the number of hosts (> 0), or -1 after filling every recipient.
 */
static int
resolve(struct dlv_job *job, const char *domain, struct mx_host *hosts)
{
	const struct dlv_route *rt = job->route;
	struct ares_addrinfo_hints hints;
	struct ares_options opts;
	struct mx_query q;
	ares_channel ch;
	long long deadline = mono_ms() + MX_DNS_LIMIT_MS;
	size_t i, naddrs = 0;
	int optmask, rc, any_temp = 0, nx;

	(void)pthread_once(&ares_once, ares_lib_init);
	if (ares_init_rc != ARES_SUCCESS)
		return all_fail(job, 451, "4.4.3", "resolver: %s",
		    ares_strerror(ares_init_rc));
	memset(&opts, 0, sizeof(opts));
	opts.timeout = MX_DNS_TIMEOUT_MS;
	opts.tries = MX_DNS_TRIES;
	optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	if (rt->resolver[0] != '\0') {
		/* a configured server: DNS only, no /etc/hosts */
		opts.lookups = lookups_dns_only;
		optmask |= ARES_OPT_LOOKUPS;
	}
	rc = ares_init_options(&ch, &opts, optmask);
	if (rc != ARES_SUCCESS)
		return all_fail(
		    job, 451, "4.4.3", "resolver: %s", ares_strerror(rc));
	if (rt->resolver[0] != '\0') {
		rc = ares_set_servers_ports_csv(ch, rt->resolver);
		if (rc != ARES_SUCCESS) {
			ares_destroy(ch);
			return all_fail(job, 451, "4.4.3",
			    "bad resolver address %s", rt->resolver);
		}
	}

	memset(&q, 0, sizeof(q));
	q.hosts = hosts;
	ares_query(ch, domain, ns_c_in, ns_t_mx, mx_cb, &q);
	ares_wait(ch, deadline);
	if (!q.done)
		q.status = ARES_ETIMEOUT;
	if (q.null_mx) {
		ares_destroy(ch);
		return all_fail(job, 556, "5.1.10",
		    "%s does not accept mail (null MX, RFC 7505)", domain);
	}
	if (q.status == ARES_ENOTFOUND) {
		ares_destroy(ch);
		return all_fail(
		    job, 550, "5.1.2", "domain %s does not exist", domain);
	}
	if (q.status == ARES_ENODATA ||
	    (q.status == ARES_SUCCESS && q.nhosts == 0)) {
		/* RFC 5321 §5.1: the domain itself is the implicit MX */
		memset(&hosts[0], 0, sizeof(hosts[0]));
		str_copy(hosts[0].name, domain, sizeof(hosts[0].name));
		q.nhosts = 1;
	} else if (q.status != ARES_SUCCESS) {
		ares_destroy(ch);
		return all_fail(job, 451, "4.4.3",
		    "MX lookup for %s failed, will retry", domain);
	}
	order_hosts(hosts, q.nhosts);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	for (i = 0; i < q.nhosts; i++) {
		hosts[i].status = ARES_ETIMEOUT;
		hosts[i].naddrs = 0;
		ares_getaddrinfo(
		    ch, hosts[i].name, NULL, &hints, addr_cb, &hosts[i]);
	}
	ares_wait(ch, deadline);
	ares_destroy(ch);

	nx = 0;
	for (i = 0; i < q.nhosts; i++) {
		if (hosts[i].naddrs == 0 && is_temp(hosts[i].status))
			any_temp = 1;
		if (hosts[i].naddrs == 0 && hosts[i].status == ARES_ENOTFOUND)
			nx++;
		naddrs += hosts[i].naddrs;
	}
	if (naddrs > 0)
		return (int)q.nhosts;
	if (any_temp)
		return all_fail(job, 451, "4.4.3",
		    "cannot resolve the mail hosts of %s, will retry", domain);
	return all_fail(
	    job, 550, "5.4.4", "no address for the mail hosts of %s", domain);
}

/* same_ip - a and b hold the same address (ports ignored). */
static int
same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)
		           ->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)
		        ->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)
		                   ->sin6_addr,
		           &((const struct sockaddr_in6 *)(const void *)b)
		                ->sin6_addr,
		           sizeof(struct in6_addr)) == 0;
	return 0;
}

static int
is_wildcard(const struct sockaddr *sa)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)sa)
		           ->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)sa)
		                   ->sin6_addr,
		           &any6, sizeof(any6)) == 0;
	return 0;
}

/* is_local - sa is an address of this machine (loopback or an interface's). */
static int
is_local(const struct sockaddr *sa)
{
	struct ifaddrs *ifs, *i;
	int found = 0;

	if (sa->sa_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)(const void *)sa)
	               ->sin_addr.s_addr) >>
	        24) == 127)
		return 1;
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(
	        &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr))
		return 1;
	if (getifaddrs(&ifs) == -1)
		return 0;
	for (i = ifs; i != NULL && !found; i = i->ifa_next)
		if (i->ifa_addr != NULL && same_ip(i->ifa_addr, sa))
			found = 1;
	freeifaddrs(ifs);
	return found;
}

static unsigned short
port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(
		    ((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/* is_self - sa (with its port set) reaches one of our own listeners. */
static int
is_self(const struct dlv_route *rt, const struct sockaddr *sa)
{
	size_t i, j;

	for (i = 0; i < rt->nself; i++)
		for (j = 0; j < rt->self[i].naddrs; j++) {
			const struct sockaddr *l =
			    (const struct sockaddr *)&rt->self[i].addrs[j].ss;

			if (port_of(l) != port_of(sa))
				continue;
			if (same_ip(l, sa) ||
			    (is_wildcard(l) && l->sa_family == sa->sa_family &&
			        is_local(sa)))
				return 1;
		}
	return 0;
}

/*
 * drop_self - RFC 5321 5.1: if one of the hosts is this server, keep only
 * the hosts preferred to it (hosts are in preference order). The number
 * left, which may be 0.
 */
static size_t
drop_self(const struct dlv_route *rt, struct mx_host *hosts, size_t n,
    unsigned short port, const char *id)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < hosts[i].naddrs; j++) {
			size_t keep = 0;

			set_port(&hosts[i].addrs[j], port);
			if (!is_self(rt, (struct sockaddr *)&hosts[i].addrs[j]))
				continue;
			while (keep < i && hosts[keep].pref < hosts[i].pref)
				keep++;
			log_info(
			    "deliver: id=%s mx=%s is this server: %zu of %zu "
			    "MX hosts left",
			    id != NULL ? id : "-", hosts[i].name, keep, n);
			return keep;
		}
	return n;
}

int
dlv_mx(struct dlv_job *job)
{
	const struct dlv_route *rt = job->route;
	struct smtpc_session_opts so;
	struct mx_host *hosts;
	struct smtpc_opts o;
	struct smtpc *c;
	const char *domain = job->domain, *at;
	unsigned short port = rt->mx_port != 0 ? rt->mx_port : 25;
	size_t i, j, tried = 0;
	int nhosts, lit, rc = -1;

	if ((domain == NULL || domain[0] == '\0') && job->nrcpts > 0 &&
	    job->rcpts[0].addr != NULL) {
		at = strrchr(job->rcpts[0].addr, '@');
		domain = at != NULL ? at + 1 : NULL;
	}
	if (domain == NULL || domain[0] == '\0' ||
	    !addr_valid_domain(domain, 0))
		return all_fail(job, 550, "5.1.2", "bad domain %s",
		    domain != NULL ? domain : "");
	hosts = calloc(MX_HOSTS_MAX, sizeof(*hosts));
	if (hosts == NULL)
		return all_fail(job, 451, "4.3.0", "%s", "out of memory");
	lit = literal_host(domain, &hosts[0]);
	if (lit == -1) {
		free(hosts);
		return all_fail(
		    job, 550, "5.1.2", "bad address literal %s", domain);
	}
	nhosts = lit == 1 ? 1 : resolve(job, domain, hosts);
	if (nhosts <= 0) {
		free(hosts);
		return -1;
	}
	nhosts = (int)drop_self(rt, hosts, (size_t)nhosts, port, job->id);
	if (nhosts == 0) {
		free(hosts);
		return all_fail(job, 554, "5.4.6",
		    "mail for %s loops back to myself", domain);
	}

	dlv_opts(job, SMTPC_SMTP, &o);
	c = smtpc_new(&o);
	if (c == NULL) {
		free(hosts);
		return all_fail(job, 451, "4.3.0", "%s", "out of memory");
	}
	memset(&so, 0, sizeof(so));
	so.tls =
	    rt->tls == DLV_TLS_NONE ? SMTPC_TLS_NONE : dlv_tls_mode(rt->tls);
	if (rt->tls == DLV_TLS_IMPLICIT)
		so.tls = SMTPC_TLS_REQUIRED; /* no port 465 MX */
	so.ca_file = rt->ca_file;

	for (i = 0; i < (size_t)nhosts && tried < MX_ADDRS_MAX; i++) {
		for (j = 0; j < hosts[i].naddrs && tried < MX_ADDRS_MAX; j++) {
			tried++;
			set_port(&hosts[i].addrs[j], port);
			if (smtpc_connect_addr(c, hosts[i].name,
			        (struct sockaddr *)&hosts[i].addrs[j],
			        hosts[i].addrlens[j]) == -1) {
				str_copy(
				    job->hop, smtpc_hop(c), sizeof(job->hop));
				continue;
			}
			so.tls_name = hosts[i].name;
			if (dlv_converse(job, c, &so) == 0) {
				rc = 0;
				goto out;
			}
			log_debug("deliver: id=%s hop=%s skipped",
			    job->id != NULL ? job->id : "-", job->hop);
		}
	}
	/* every address failed before MAIL: the last one's story */
	dlv_all_reply(job, smtpc_reply(c));
out:
	smtpc_free(c);
	free(hosts);
	return rc;
}
