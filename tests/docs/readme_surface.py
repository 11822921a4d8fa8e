"""The README's list of resources, tools and prompts is the registry's own
output, so it cannot drift: this fails when they differ."""
import os
import subprocess
import sys

build = os.environ["SMCP_BUILD_DIR"]
src = os.environ["SMCP_SOURCE_DIR"]
surface = subprocess.run([os.path.join(build, "core", "schedmcp"), "--list-surface",
                          "--plugin-dir", os.path.join(build, "plugins"), "--no-default-plugins",
                          "--log-level", "error"],
                         check=True, capture_output=True, text=True).stdout
readme = open(os.path.join(src, "README.md")).read()
begin, end = "<!-- surface:begin (scripts/update-readme) -->\n", "<!-- surface:end -->"
documented = readme[readme.index(begin) + len(begin):readme.index(end)]
if documented != surface:
    import difflib
    sys.stdout.writelines(difflib.unified_diff(documented.splitlines(True), surface.splitlines(True),
                                               "README.md", "schedmcp --list-surface"))
    print("README.md is out of date: run scripts/update-readme")
    print("0 passed, 1 failed")
    sys.exit(1)
print("README surface matches the registry")
print("1 passed, 0 failed")
