"""Events flowing to the sector's listings: publiq's UiTdatabank (Flanders and Brussels).

mapping.py turns an event into the Entry API's event model; client.py talks to the
Entry API with an OAuth2 client access token; push.py is the use case (what to send,
and the state per event); watch.py raises the domain events that ask for a push.
"""
