"""The platform operator: platform admins, their console (`/platform`), onboarding and
suspending venues, and the platform's own statement of its fees."""
