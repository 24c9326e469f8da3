"""The notification service: receives "order placed" calls from other services and e-mails customers."""
