"""Modal screens: the scenario browser, saving an edited scenario, help."""
