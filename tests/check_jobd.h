#ifndef CHECK_JOBD_H
#define CHECK_JOBD_H

#include <check.h>

Suite	*proto_suite(void);
Suite	*duration_suite(void);
Suite	*job_suite(void);
Suite	*output_suite(void);
Suite	*config_suite(void);
Suite	*spawn_suite(void);
Suite	*store_suite(void);
Suite	*histogram_suite(void);

#endif
