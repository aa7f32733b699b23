"""`avr` subcommands beyond eval/synth/demo-report, one module each.

Each module exposes `add_parser(subparsers)`; it sets `run=` on its parser. Heavy imports
(torch, transformers, trl, httpx) stay inside the run functions so `avr eval` stays light.
"""
