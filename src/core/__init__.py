"""The email API's domain: nothing here knows about API Gateway or Lambda events."""
