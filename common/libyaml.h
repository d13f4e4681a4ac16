/*
 * Includes libyaml's own <yaml.h>. The project's common/yaml.h has the same
 * name and comes first on the include path (-Icommon), so code that needs the
 * libyaml event API includes <libyaml.h> instead, which skips to the next
 * directory with #include_next.
 */
#ifndef MASON_LIBYAML_H
#define MASON_LIBYAML_H

#include_next <yaml.h>

#endif
