"""The web app people use: server-rendered pages beside the JSON API, on the same store, domain
and API functions (so permissions and rules are the API's), every action a plain HTML form."""
