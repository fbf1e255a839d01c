/* Unit tests: one runner for every module's suite; returns the failures. */
#include <stdlib.h>

#include "check_jobd.h"
#include "jobd.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	config_defaults(&cfg);
	sr = srunner_create(proto_suite());
	srunner_add_suite(sr, duration_suite());
	srunner_add_suite(sr, job_suite());
	srunner_add_suite(sr, output_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, spawn_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, histogram_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
