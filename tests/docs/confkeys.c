/*
 * confkeys.c - prints echod.conf's schema as check-docs.py compares it
 * with echod.conf(5): one line per key, "key<TAB>type<TAB>default", in
 * the schema's order.  Integers are printed raw (durations in ms, sizes
 * in bytes); a list as its entries joined by ", "; an unset string as
 * "unset".  The schema itself is the reference, so nothing here restates
 * a default.
 */
#include "config.h"

#include <stdio.h>

#include <confuse.h>

#include "conf.h"
#include "confschema.h"

static void
print_value(cfg_opt_t *opt, unsigned i)
{
	const char *s;

	switch (opt->type) {
	case CFGT_INT:
		printf("%ld", cfg_opt_getnint(opt, i));
		break;
	case CFGT_BOOL:
		printf("%s", cfg_opt_getnbool(opt, i) ? "true" : "false");
		break;
	case CFGT_STR:
		s = cfg_opt_getnstr(opt, i);
		printf("%s", s != NULL ? s : "unset");
		break;
	default:
		printf("?");
	}
}

int
main(void)
{
	char err[CONF_ERRLEN] = "";
	cfg_t *cfg;

	if ((cfg = confschema_new(NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "confkeys: out of memory\n");
		return 1;
	}
	for (size_t k = 0; k < CONFSCHEMA_NKEYS; k++) {
		cfg_opt_t *opt = cfg_getopt(cfg, confschema_key(k));
		unsigned n;

		if (opt == NULL) {
			fprintf(stderr, "confkeys: %s: not in the schema\n",
			    confschema_key(k));
			return 1;
		}
		n = cfg_opt_size(opt);
		printf("%s\t%s\t", opt->name,
		    (opt->flags & CFGF_LIST) ? "list" :
		    opt->type == CFGT_INT ? "int" :
		    opt->type == CFGT_BOOL ? "bool" : "str");
		if ((opt->flags & CFGF_LIST) == 0 && n == 0)
			printf("unset");
		for (unsigned i = 0; i < n; i++) {
			if (i > 0)
				printf(", ");
			print_value(opt, i);
		}
		printf("\n");
	}
	confschema_free(cfg);
	return 0;
}
