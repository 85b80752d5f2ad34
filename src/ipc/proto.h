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
	PROTO_AUTH_START = 1,	/* u64 xid, str session, str mech, u8 has_ir, blob ir,
				 * str client_addr, u8 tls, str tls_version,
				 * blob cb_unique, blob cb_exporter, str cert_identity,
				 * u8 plus_advertised */
	PROTO_AUTH_STEP = 2,	/* u64 xid, blob response */
	PROTO_AUTH_CANCEL = 3,	/* u64 xid (client sent "*" or the session closed) */
	PROTO_RCPT_LOOKUP = 4,	/* u64 xid, str session, str address */

	/* auth -> worker */
	PROTO_AUTH_RESULT = 101,/* u64 xid, u8 verdict (enum proto_verdict), blob data,
				 * str user (on OK), str reason (for the log) */
	PROTO_RCPT_RESULT = 102,/* u64 xid, u8 status (enum proto_rcpt), str mailbox */
	PROTO_MECHS = 103,	/* u32 n, n x (str name, u32 flags): what the passdbs can serve */
};

enum proto_verdict {
	PROTO_V_CONTINUE = 0,	/* data is the next challenge: 334 */
	PROTO_V_OK,		/* 235 2.7.0 (data: final server data, sent as 334 first) */
	PROTO_V_FAIL,		/* 535 5.7.8 */
	PROTO_V_TEMPFAIL,	/* 454 4.7.0 */
	PROTO_V_MALFORMED,	/* 501 5.5.2 */
	PROTO_V_NOMECH,		/* 504 5.5.4 */
	PROTO_V_MUST_CHANGE,	/* 432 4.7.12 */
	PROTO_V_NO_SCHEME,	/* 534 5.7.9 */
	PROTO_V_MAX
};

enum proto_rcpt {
	PROTO_RCPT_FOUND = 0,
	PROTO_RCPT_NOT_FOUND,
	PROTO_RCPT_TEMPFAIL,
};

#endif
