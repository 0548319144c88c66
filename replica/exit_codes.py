"""Exit statuses of the ``replica`` commands, in one place for the command line, the scan driver
and the report (each imports them from here; none imports another for them).

====  =====================  ==========================================================
0     ``EXIT_OK``            done
1     ``EXIT_FAILURE``       some tasks failed (recorded in ``tasks/<task>.error.json``)
2     ``EXIT_BAD_INPUT``     bad input or a locked / unwritable output, before any work
3     ``EXIT_INTERRUPTED``   stopped by a signal, or the disk is full; ``--resume`` continues
4     ``EXIT_DISAGREEMENT``  ``replica report``: Monte Carlo rows disagree with exact ones or
                             did not mix
141   ``EXIT_BROKEN_PIPE``   the reader of standard output went away (128 + SIGPIPE)
====  =====================  ==========================================================
"""
EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_DISAGREEMENT = 0, 1, 2, 3, 4
#: Exit status when the standard output was closed by its reader (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 128 + 13

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_DISAGREEMENT", "EXIT_BROKEN_PIPE"]
