"""loss-service: loss values and gradients over HTTP."""
