#!/usr/bin/env python3
"""tshark_expected.py [--root DIR] CAPTURE... > expected.tsv

Writes one line per export capture with what tshark decodes from it, as
counted by tshark_flows.py (two-pass; options records are not flows):
  capture         path as given, relative to --root if given
  flows           flow data records
  options_records options data records
  undecoded_sets  data sets tshark could not decode (no template, malformed)
Regenerate tests/data/netflow/expected.tsv from the repository root with
  cd tests/data/netflow && ../../tools/tshark_expected.py \\
      $(find . -name '*.pcap' | sed 's|^\\./||' | LC_ALL=C sort) > expected.tsv
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in tests/tools/
import tshark_flows  # noqa: E402


def main():
    args = sys.argv[1:]
    root = None
    if "--root" in args:
        i = args.index("--root")
        root = args[i + 1]
        del args[i:i + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    ver = re.search(r"\d+\.\d+\.\d+", subprocess.run(
        ["tshark", "-v"], capture_output=True, text=True).stdout)
    print("# made by tests/tools/tshark_expected.py with tshark "
          + (ver.group(0) if ver else "?"))
    print("#capture\tflows\toptions_records\tundecoded_sets")
    for cap in args:
        r = tshark_flows.count(cap, tshark_flows.ports_of(cap))
        name = os.path.relpath(cap, root) if root else cap
        print(f"{name}\t{r['flows']}\t{r['options_records']}\t"
              f"{r['undecoded_sets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
