/* SPDX-License-Identifier: MIT */
/* An empty object for the throwaway shared library that tests/symbols.sh inspects. */
typedef int smtp_symcheck_unused;
