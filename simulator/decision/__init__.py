"""Decision analysis under assumption uncertainty: sampling the assumptions, value of information, P(best), regret."""
