"""Local stand-ins for the invoice checker's outside parties (10000ft, Google sign-in, Slack)."""
