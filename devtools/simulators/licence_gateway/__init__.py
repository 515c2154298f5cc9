"""Local stand-ins for the gateway's outside parties (ICMS, HMRC, Microsoft identity), speaking
their real protocols, for `make demo`, `make run` and the tests."""
