/*
 * dlv_probe.c - run one dlv_run() from the command line and print the
 * result as JSON: the test driver of tests/integration/test_delivery.py,
 * which points it at the Python sink, the test DNS server and Dovecot.
 * Not installed. The password comes from a file, never from argv.
 *
 *   dlv_probe --method smtp|lmtp|mx|maildir [options] --message FILE RCPT...
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "deliver/agent.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: dlv_probe --method smtp|lmtp|mx|maildir [--host H] "
	    "[--port N]\n"
	    "  [--unix PATH] [--tls none|opportunistic|required|implicit] "
	    "[--ca FILE]\n"
	    "  [--tls-name N] [--user U --password-file F] [--mechs M] "
	    "[--pass-auth]\n"
	    "  [--resolver HOST:PORT] [--mx-port N] [--maildir TMPL] "
	    "[--from ADDR]\n"
	    "  [--domain D] [--auth-param A] [--smtputf8] [--8bit] "
	    "[--helo NAME]\n"
	    "  [--timeout MS] --message FILE RCPT...\n");
	exit(2);
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *
status_name(enum dlv_status s)
{
	switch (s) {
	case DLV_OK:
		return "OK";
	case DLV_TEMP:
		return "TEMP";
	case DLV_PERM:
		return "PERM";
	}
	return "?";
}

static unsigned short
port_arg(const char *s)
{
	unsigned long long v;

	if (str_to_uint(s, 65535, &v) == -1)
		usage();
	return (unsigned short)v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"method", required_argument, NULL, 'M'},
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"unix", required_argument, NULL, 'u'},
	    {"tls", required_argument, NULL, 't'},
	    {"ca", required_argument, NULL, 'c'},
	    {"tls-name", required_argument, NULL, 'n'},
	    {"user", required_argument, NULL, 'U'},
	    {"password-file", required_argument, NULL, 'P'},
	    {"mechs", required_argument, NULL, 'm'},
	    {"pass-auth", no_argument, NULL, 'A'},
	    {"resolver", required_argument, NULL, 'r'},
	    {"mx-port", required_argument, NULL, 'x'},
	    {"maildir", required_argument, NULL, 'd'},
	    {"from", required_argument, NULL, 'f'},
	    {"domain", required_argument, NULL, 'D'},
	    {"auth-param", required_argument, NULL, 'a'},
	    {"smtputf8", no_argument, NULL, '8'},
	    {"8bit", no_argument, NULL, 'b'},
	    {"helo", required_argument, NULL, 'H'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"message", required_argument, NULL, 'F'},
	    {"debug", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	static struct dlv_route rt;
	struct dlv_rcpt *rcpts;
	struct dlv_job job;
	struct stat st;
	unsigned long long v;
	const char *message = NULL;
	FILE *pf;
	size_t i;
	int ch, rc, debug = 0;

	signal(SIGPIPE, SIG_IGN);
	memset(&rt, 0, sizeof(rt));
	memset(&job, 0, sizeof(job));
	rt.tls = DLV_TLS_REQUIRED;
	rt.connect_timeout_ms = 5000;
	rt.command_timeout_ms = 10000;
	job.id = "probe";
	job.mail_from = "";
	job.helo_name = "probe.test";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'M':
			if (strcmp(optarg, "smtp") == 0)
				rt.method = DLV_SMTP;
			else if (strcmp(optarg, "lmtp") == 0)
				rt.method = DLV_LMTP;
			else if (strcmp(optarg, "mx") == 0)
				rt.method = DLV_MX;
			else if (strcmp(optarg, "maildir") == 0)
				rt.method = DLV_MAILDIR;
			else
				usage();
			break;
		case 'h':
			str_copy(rt.host, optarg, sizeof(rt.host));
			break;
		case 'p':
			rt.port = port_arg(optarg);
			break;
		case 'u':
			str_copy(rt.unix_path, optarg, sizeof(rt.unix_path));
			break;
		case 't':
			if (strcmp(optarg, "none") == 0)
				rt.tls = DLV_TLS_NONE;
			else if (strcmp(optarg, "opportunistic") == 0)
				rt.tls = DLV_TLS_OPPORTUNISTIC;
			else if (strcmp(optarg, "required") == 0)
				rt.tls = DLV_TLS_REQUIRED;
			else if (strcmp(optarg, "implicit") == 0)
				rt.tls = DLV_TLS_IMPLICIT;
			else
				usage();
			break;
		case 'c':
			str_copy(rt.ca_file, optarg, sizeof(rt.ca_file));
			break;
		case 'n':
			str_copy(rt.tls_name, optarg, sizeof(rt.tls_name));
			break;
		case 'U':
			str_copy(rt.auth_user, optarg, sizeof(rt.auth_user));
			break;
		case 'P':
			pf = fopen(optarg, "r");
			if (pf == NULL ||
			    fgets(rt.auth_password, sizeof(rt.auth_password),
			        pf) == NULL) {
				fprintf(stderr, "cannot read %s\n", optarg);
				return 2;
			}
			fclose(pf);
			rt.auth_password[strcspn(rt.auth_password, "\r\n")] =
			    '\0';
			break;
		case 'm':
			str_copy(rt.auth_mechs, optarg, sizeof(rt.auth_mechs));
			break;
		case 'A':
			rt.pass_auth_param = 1;
			break;
		case 'r':
			str_copy(rt.resolver, optarg, sizeof(rt.resolver));
			break;
		case 'x':
			rt.mx_port = port_arg(optarg);
			break;
		case 'd':
			str_copy(
			    rt.maildir_tmpl, optarg, sizeof(rt.maildir_tmpl));
			break;
		case 'f':
			job.mail_from = optarg;
			break;
		case 'D':
			job.domain = optarg;
			break;
		case 'a':
			job.auth_param = optarg;
			break;
		case '8':
			job.smtputf8 = 1;
			break;
		case 'b':
			job.eightbit = 1;
			break;
		case 'H':
			job.helo_name = optarg;
			break;
		case 'T':
			if (str_to_uint(optarg, 3600000, &v) == -1)
				usage();
			rt.connect_timeout_ms = (unsigned int)v;
			rt.command_timeout_ms = (unsigned int)v;
			break;
		case 'F':
			message = optarg;
			break;
		case 'v':
			debug = 1;
			break;
		default:
			usage();
		}
	}
	if (message == NULL || optind >= argc)
		usage();
	log_init("probe", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	job.msg_fd = open(message, O_RDONLY | O_CLOEXEC);
	if (job.msg_fd == -1 || fstat(job.msg_fd, &st) == -1) {
		perror(message);
		return 2;
	}
	job.msg_size = st.st_size;
	job.route = &rt;
	job.nrcpts = (size_t)(argc - optind);
	rcpts = calloc(job.nrcpts, sizeof(*rcpts));
	if (rcpts == NULL)
		return 2;
	for (i = 0; i < job.nrcpts; i++)
		rcpts[i].addr = argv[optind + (int)i];
	job.rcpts = rcpts;

	rc = dlv_run(&job);

	printf("{\"rc\": %d, \"hop\": ", rc);
	json_str(job.hop);
	printf(", \"tls\": ");
	json_str(job.tls_info);
	printf(", \"rcpts\": [");
	for (i = 0; i < job.nrcpts; i++) {
		printf("%s{\"addr\": ", i > 0 ? ", " : "");
		json_str(rcpts[i].addr);
		printf(", \"status\": \"%s\", \"dsn\": ",
		    status_name(rcpts[i].status));
		json_str(rcpts[i].dsn_code);
		printf(", \"reply\": ");
		json_str(rcpts[i].reply);
		printf("}");
	}
	printf("]}\n");
	memset(rt.auth_password, 0, sizeof(rt.auth_password));
	free(rcpts);
	close(job.msg_fd);
	return 0;
}
