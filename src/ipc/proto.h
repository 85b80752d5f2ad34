/*
 * proto.h - every message between the SMTP workers and the auth service,
 * in one list: this file is the trust boundary. Workers send what the client
 * said and what TLS told them; the auth service answers with verdicts and
 * challenges. No stored secret ever travels worker-ward.
 *
 * Field lists (in order) per type:
 */
#ifndef POSTERN_IPC_PROTO_H
#define POSTERN_IPC_PROTO_H

enum proto_type {
	/* worker -> auth */
	PROTO_AUTH_START =
	    1, /* u64 xid, str session, str mech, u8 has_ir, blob ir,
				 * str client_addr, u8 tls, str tls_version,
				 * blob cb_unique, blob cb_exporter, str cert_identity,
				 * u8 plus_advertised, str listener */
	PROTO_AUTH_STEP = 2, /* u64 xid, blob response */
	PROTO_AUTH_CANCEL =
	    3, /* u64 xid (client sent "*" or the session closed) */
	PROTO_RCPT_LOOKUP = 4, /* u64 xid, str session, str address */
	PROTO_MAIL_CHECK = 5,  /* u64 xid, str session, str login, str mail_from
				 * ("" = <>), u64 size (SIZE=, 0 = none),
				 * str client_addr, str listener: sender
				 * ownership and rate limits of an
				 * authenticated MAIL FROM */
	PROTO_DATA_CHECK = 6,  /* u64 xid, str session, str queue_id, str login,
				 * str client_addr, str mail_from, u32 nrcpts,
				 * u64 size,
				 * u8 header (enum proto_header), u32 n,
				 * n x (u8 is_sender, str address): the
				 * header From:/Sender: addresses, after DATA */
	PROTO_SESSION_END = 7, /* str session: an authenticated session
				 * closed (its credential profile goes) */

	/* auth -> worker */
	PROTO_AUTH_RESULT =
	    101, /* u64 xid, u8 verdict (enum proto_verdict), blob data,
				 * str user (on OK), str reason (for the log) */
	PROTO_RCPT_RESULT =
	    102, /* u64 xid, u8 status (enum proto_rcpt), str mailbox */
	PROTO_MECHS =
	    103, /* u32 n, n x (str name, u32 flags): what the passdbs can serve */
	PROTO_MAIL_RESULT = 104, /* u64 xid, u8 verdict (enum proto_policy),
				 * u32 rcpt_budget (recipients still allowed,
				 * 0xffffffff = no limit), str text (reply) */
	PROTO_DATA_RESULT = 105, /* u64 xid, u8 verdict (enum proto_policy),
				 * u8 notify (hold: write the containment
				 * notices), str text (reply) */
	PROTO_BAN_SET = 106,   /* str key (guard key: IPv4, IPv6 /64), u64 until
				 * (unix time); sent to every worker, and the
				 * whole list when a worker connects */
	PROTO_BAN_CLEAR = 107, /* str key */
};

enum proto_verdict {
	PROTO_V_CONTINUE = 0, /* data is the next challenge: 334 */
	PROTO_V_OK, /* 235 2.7.0 (data: final server data, sent as 334 first) */
	PROTO_V_FAIL,        /* 535 5.7.8 */
	PROTO_V_TEMPFAIL,    /* 454 4.7.0 */
	PROTO_V_MALFORMED,   /* 501 5.5.2 */
	PROTO_V_NOMECH,      /* 504 5.5.4 */
	PROTO_V_MUST_CHANGE, /* 432 4.7.12 */
	PROTO_V_NO_SCHEME,   /* 534 5.7.9 */
	PROTO_V_BANNED, /* 454 4.7.0: the client address is banned (guard) */
	PROTO_V_MAX
};

/* Policy answers to PROTO_MAIL_CHECK and PROTO_DATA_CHECK. */
enum proto_policy {
	PROTO_P_OK = 0,
	PROTO_P_REFUSE,   /* 553 5.7.1 (MAIL), 550 5.7.1 (after DATA) */
	PROTO_P_LIMIT,    /* 452 4.7.1: a rate limit, try later */
	PROTO_P_HOLD,     /* accept into the queue on hold (containment) */
	PROTO_P_TEMPFAIL, /* 451 4.7.1: the policy data is unavailable */
	PROTO_P_MAX
};

/* What the worker's header scanner made of the header section. */
enum proto_header {
	PROTO_H_OK = 0,
	PROTO_H_UNPARSABLE, /* a From:/Sender: it could not parse */
	PROTO_H_TOO_BIG,    /* the section exceeded the scanner's bound */
	PROTO_H_MAX
};

enum proto_rcpt {
	PROTO_RCPT_FOUND = 0,
	PROTO_RCPT_NOT_FOUND,
	PROTO_RCPT_TEMPFAIL,
};

#endif
