"""One package of stand-ins per service, each speaking the real protocol of an outside party."""
