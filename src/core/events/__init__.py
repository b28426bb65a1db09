"""Events a provider publishes about sent mail (SES's), read and applied to message records."""
