"""The core both the web app and the background jobs build on: services that work on the models
(no request, no worker). See the README's "Code layout" for the layers and what may import what."""
