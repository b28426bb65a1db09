"""The SMTP servers this repository runs on 127.0.0.1, one job per module.

- `loopback`: aiosmtpd on loopback, plain, STARTTLS or implicit TLS, with optional AUTH: the
  one way a real SMTP server is started here.
- `capture`: the one aiosmtpd handler that takes messages: it answers as scripted (per
  transaction, if need be), records the envelope, TLS and AUTH of each message, and hands what
  it accepts to whoever keeps it (a list in the tests).
- `simulator`: the handler `make dev` runs, keeping into files: recipients at
  simulator.example.com succeed, bounce, defer, drop or answer slowly on purpose (SES's
  mailbox simulator, locally); AUTH takes any credentials over TLS.
- `faults`: a scripted SMTP server on a raw socket that answers a chosen code, drops, resets or
  stalls at a chosen point of the session; the tests script it fault by fault, the soak run
  (`make soak`) deals faults at random. What it does wrong and when: `fault_script`; what it
  saw of a session: `fault_session`; its raw socket: `fault_wire`.

They live here, not under `tests/`, because the local stack (`local_stack.mail_capture`) and the
soak run use them; `tests/support/smtp_servers.py` builds the tests' servers on top of them.
"""
