/*
 * Built against an *installed* libjobdclient, with nothing but
 * `pkg-config --cflags --libs jobd`: proves the installed header, library
 * and jobd.pc are complete. .ci/packaging runs it against the .deb.
 *
 *	client-ping SOCKET	ping the jobd there: exit 0 if it answers ok
 *	client-ping		link check only: parse a duration, exit 0
 */
#include <stdio.h>
#include <string.h>

#include <jobd/client.h>
#include <jobd-protocol.h>

int
main(int argc, char **argv)
{
	struct jobd_client	*c;
	json_object		*req, *resp, *ok;
	char			 err[256];
	double			 secs;
	int			 good;

	if (jobd_parse_duration("1.5m", &secs) != 0 || secs != 90) {
		fprintf(stderr, "client-ping: jobd_parse_duration is wrong\n");
		return (1);
	}
	if (argc < 2) {
		printf("client-ping: linked, protocol %d\n",
		    JOBD_PROTOCOL_VERSION);
		return (0);
	}
	if ((c = jobd_connect(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "client-ping: %s\n", err);
		return (1);
	}
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("ping"));
	resp = jobd_call(c, req);
	json_object_put(req);
	good = resp != NULL && json_object_object_get_ex(resp, "ok", &ok) &&
	    json_object_get_boolean(ok);
	printf("client-ping: %s\n", resp != NULL ?
	    json_object_to_json_string(resp) : "no response");
	json_object_put(resp);
	jobd_close(c);
	return (good ? 0 : 1);
}
