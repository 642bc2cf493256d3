#!/usr/bin/env python3
"""Parses a Prometheus text exposition from stdin with prometheus_client's own parser
and prints every sample on a line of its own, labels sorted:
    TYPE<TAB>name{k="v",...}<TAB>value
Exits non-zero if the text does not parse."""

import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(sample.labels.items()))
        print("%s\t%s{%s}\t%r" % (family.type, sample.name, labels, float(sample.value)))
