#include <cstdio>

int main() {
  std::puts("leanlm");
  return 0;
}
