"""The simulated cloud: real OpenStack REST APIs over a generated, evolving estate, on 127.0.0.1."""
