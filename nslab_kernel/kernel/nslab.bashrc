# nslab: the shell of a terminal opened inside a lab node (bash --rcfile this).
# The usual start-up files first, then a prompt that names the node.
[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -r "$HOME/.bashrc" ] && . "$HOME/.bashrc"
alias ls='ls --color=auto' grep='grep --color=auto' ip='ip -color=auto'
PS1="\[\e[1;36m\](${NSLAB_NODE:-node})\[\e[0m\] \u:\w\\$ "
