"""Background jobs: subprocesses (`avr infer`, `avr train`) launched and watched without blocking the GUI."""
