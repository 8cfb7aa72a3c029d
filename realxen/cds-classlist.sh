#!/usr/bin/env bash
# Turns JVM class-loading logs (-Xlog:class+load=info:file=...) into the class list run.sh gives `java -Xshare:dump`
# (one class per line, '/'-separated): the JDK's classes and xenhost.jar's, not generated ones (lambdas, proxies,
# method handles: the JVM makes those at run time). Used to refresh realxen/cds-classes.txt:
#   realxen/cds-classlist.sh LOG... > realxen/cds-classes.txt
# A stale list is harmless: a class no longer in the jar is skipped by the dump, a new one loads the ordinary way.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: realxen/cds-classlist.sh CLASS-LOAD-LOG..." >&2; exit 2; }
{
  echo "# xenhost's class list for dom0's class-data archive: made by realxen/cds-classlist.sh from class-loading logs"
  cat "$@" | awk '/\[class,load\]/ && / source: (shared objects file|jrt:\/|file:.*xenhost\.jar)/ { print $2 }' \
    | grep -v -e '/0x' -e '\$\$Lambda' -e '\$Proxy' | tr . / | sort -u
}
