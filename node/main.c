/*
 * node/main.c: the fedmesh binary. Everything lives in mesh_node so that
 * tests link the same code; this file only hands over argv.
 */
#include "node/node.h"

int main(int argc, char **argv)
{
    return node_cli_main(argc, argv);
}
