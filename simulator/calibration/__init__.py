"""Calibration: fit a scenario's uncertain parameters to the firm's own monthly history.

Stages, one module each:

    history    the history file read and checked (month, metric, value, se or n)
    priors     the fitted parameters and their priors (the file's distributions, or --fit bounds)
    design     the runs: a space-filling design over the priors, through the batch executors and store
    emulator   a Gaussian-process emulator of the mean series on principal components, per metric
    posterior  the likelihood, emcee's posterior and scipy's point fit
    calibrate  the stages in order, the check runs and the fit statistics
    stats      Theil's inequality statistics, MAPE, R^2
    fitted     the `extends:` file of fitted distributions that `spc decide` samples
    plot       history against the calibrated model (matplotlib)
    synthetic  histories made by the model itself (simulation-based checks, the shipped demo)
"""
