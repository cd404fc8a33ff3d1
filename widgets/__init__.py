"""nslab_widgets: the ipywidgets layer of nslab (installed from the ``widgets/`` folder).

It only consumes data from ``nslab_kernel`` (never pyroute2 or pylxd), so every
widget renders from a saved lab state without root.
"""
